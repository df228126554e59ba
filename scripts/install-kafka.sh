#!/usr/bin/env bash
# Apache Kafka for the tests (tests/servers.py: start_apache_kafka): the broker's jars from Maven
# Central, fetched once into a cache folder and reused. Needs Java 17+ and Maven; installs them
# with apt-get when missing. Prints the folder that holds the jars.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
pom="$here/tests/kafka_server/pom.xml"
version="$(sed -n 's:.*<version>\([0-9][0-9.]*\)</version>.*:\1:p' "$pom" | tail -n 1)"
dest="${DSTREAM_KAFKA_JARS:-${XDG_CACHE_HOME:-$HOME/.cache}/dstream/apache-kafka-$version}"
if [ -f "$dest/kafka_2.13-$version.jar" ]; then
    echo "$dest"
    exit 0
fi
if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq openjdk-17-jre-headless maven >&2
fi
tmp="$dest.partial.$$"
rm -rf "$tmp"
mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$tmp" >&2
mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
mv "$tmp" "$dest"
echo "$dest"
