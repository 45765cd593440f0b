#!/usr/bin/env bash
# Makes sure the system packages the stack needs are present: a Java 17+ runtime (Spark 3.5) and the
# PostgreSQL JDBC driver (Iceberg's JDBC catalog). Installs them with apt-get when running as root on
# Debian/Ubuntu; otherwise stops with one clear message naming what to install.
set -euo pipefail

missing=()
java_ok() {
  command -v java >/dev/null 2>&1 || return 1
  local major
  major=$(java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit}')
  [ -n "$major" ] && [ "$major" -ge 17 ]
}
jdbc_ok() {
  [ -n "${CSP_POSTGRES_JDBC_JAR:-}" ] && [ -f "$CSP_POSTGRES_JDBC_JAR" ] && return 0
  ls /usr/share/java/postgresql*.jar >/dev/null 2>&1
}
# The Python the Makefile chose (PYTHON: the first 3.11 or 3.12 on the PATH; empty when none is)
python_ok() {
  local python="${PYTHON:-python3}"
  command -v "$python" >/dev/null 2>&1 &&
    "$python" -c 'import sys, venv; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null
}

java_ok || missing+=("java")
jdbc_ok || missing+=("jdbc")
python_ok || missing+=("python")
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  pkgs=()
  for m in "${missing[@]}"; do
    case "$m" in
      java) pkgs+=("openjdk-17-jre-headless") ;;
      jdbc) pkgs+=("libpostgresql-jdbc-java") ;;
      python) pkgs+=("python3" "python3-venv") ;;
    esac
  done
  echo "installing system packages: ${pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if ! apt-get install -y -qq "${pkgs[@]}"; then
    # Newer Debian releases ship a newer LTS JDK only; Spark 3.5 runs on it too.
    apt-get install -y -qq "${pkgs[@]/openjdk-17-jre-headless/default-jre-headless}"
  fi
  java_ok && jdbc_ok && python_ok && exit 0
fi

echo "error: missing system packages: ${missing[*]}." >&2
echo "  Install a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless), the PostgreSQL JDBC driver" >&2
echo "  (apt-get install libpostgresql-jdbc-java, or set CSP_POSTGRES_JDBC_JAR=/path/to/postgresql.jar)" >&2
echo "  and Python 3.11 or 3.12 with venv (PySpark 3.5 does not run on 3.13), then run make again." >&2
exit 1
