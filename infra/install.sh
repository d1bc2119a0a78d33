#!/usr/bin/env bash
# Installs what the local services need and is missing; does nothing (quickly) when all is there.
# Debian 12. Run by infra/services.sh start and by .ci/run; safe to run any number of times.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

SUDO=
[[ $EUID -eq 0 ]] || SUDO=sudo

say() { echo "[install] $*"; }

missing=()
# chromium: the load-test report test renders the HTML report headless (playwright-core drives it).
for pkg in redis-server mariadb-server prometheus chromium; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
# Tools rather than packages: any java, mvn, npm or curl on PATH will do, however it got there.
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v curl >/dev/null || missing+=(curl) # prometheus.sh's readiness check
command -v npm >/dev/null || missing+=(npm)   # only to run `npm ci`; the project's Node 24 comes from npm
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv) # the fuzzer's virtualenv
command -v perf >/dev/null || missing+=(linux-perf) # bench:cost's on-CPU profiles (bench/perf.ts)

if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  # The packages' maintainer scripts would start system-wide redis/mariadb/prometheus on our ports.
  # policy-rc.d exit 101 ("action forbidden") tells invoke-rc.d not to. Docker images often ship
  # one already: then it is not ours to remove.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt_install() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; }
  # A fresh image has no package lists at all; stale ones show up as a failed install. Either
  # way one `apt-get update` is enough, and on a machine with current lists we skip it.
  if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    say "apt-get update"
    $SUDO apt-get update -q
    apt_install
  elif ! apt_install; then
    say "install failed; retrying after apt-get update"
    $SUDO apt-get update -q
    apt_install
  fi
fi

# Kafka is not packaged for Debian: its jars come from Maven Central (infra/kafka/pom.xml).
if ! compgen -G "$ROOT/infra/kafka/lib/kafka_2.13-*.jar" >/dev/null; then
  say "downloading Kafka jars into infra/kafka/lib"
  (cd "$ROOT/infra/kafka" && mvn -B -q -ntp -Dstyle.color=never dependency:copy-dependencies -DoutputDirectory=lib -DincludeScope=runtime)
fi

# A Python tool (PyPI), pinned, in its own virtualenv under the git-ignored data folder, so the
# system Python stays untouched: pip_tool NAME VERSION COMMAND, where `COMMAND --version` prints it.
pip_tool() {
  local name=$1 version=$2 command=$3
  local venv="$ROOT/.data/venv/$name"
  if ! "$venv/bin/$command" --version 2>/dev/null | grep -qwF -- "$version"; then
    say "installing $name $version into .data/venv/$name"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "$name==$version"
  fi
}

# Schemathesis fuzzes the OpenAPI document in test/fuzz.
pip_tool schemathesis 4.32.5 st
# kubernetes-validate checks deploy/k8s against the Kubernetes API schemas it bundles, one set per
# Kubernetes version, so test/deploy/k8s.test.ts validates offline (kubeconform and kubeval
# download their schemas at run time).
pip_tool kubernetes-validate 1.37.0 kubernetes-validate

say "all present"
