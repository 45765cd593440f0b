from cs_platform.cli import main

main()
