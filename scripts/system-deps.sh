#!/usr/bin/env bash
# Install the Debian 12 packages edge-counter needs, only those missing.
#   scripts/system-deps.sh runtime   # python venv + ffmpeg libs for the demo
#   scripts/system-deps.sh test      # + GStreamer RTSP server, PostgreSQL 15, PgBouncer, Chromium (web page
#                                    #   tests), systemd (for systemd-analyze security, systemd-sysusers and
#                                    #   systemctl --root on unit files: nothing needs systemd running), and Citus
#                                    #   for PostgreSQL 15 from ../shared/tools/citus (the central suite's cluster:
#                                    #   AGPL, a separate server we speak SQL to, installed into the system's
#                                    #   PostgreSQL, never here)
set -euo pipefail
tools="${EDGE_TOOLS_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/shared/tools}"

citus() {  # idempotent; install.sh also brings postgresql-15 to the 15.20 its build needs
  [ "${1:-runtime}" = "test" ] || return 0
  if [ "$(id -u)" -eq 0 ]; then
    "$tools/citus/install.sh"
  elif [ ! -f /usr/share/postgresql/15/extension/citus.control ]; then
    echo "Citus is not installed; run: sudo $0 test" >&2
    exit 1
  fi
}
want=(python3-venv python3-dev)
if [ "${1:-runtime}" = "test" ]; then
  want+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
         gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav ffmpeg
         postgresql-15 postgresql-client-15 pgbouncer openssl systemd chromium fonts-dejavu-core)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then citus "${1:-runtime}"; exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]}; run: sudo $0 ${1:-runtime}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a cluster on install; tests use their own throwaway servers.
if command -v pg_lsclusters >/dev/null; then
  pg_lsclusters -h 2>/dev/null | while read -r ver name _; do pg_ctlcluster "$ver" "$name" stop 2>/dev/null || true; done
fi
systemctl disable --now pgbouncer 2>/dev/null || service pgbouncer stop 2>/dev/null || true
citus "${1:-runtime}"
