#!/usr/bin/env bash
# The production files in ops/ are valid for the tools that read them: nginx -t on
# ops/nginx/arena.conf (only the certificate and log paths moved), systemd-analyze verify
# on every unit, logrotate -d, bash -n on every script. (Redis's files are loaded for real
# by the fault tests; ops/arena.json by test_run.sh.) logrotate: only the user changed.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ops_lib.sh"

make_cert "$T/tls"
mkdir -p "$T/nginx"
sed -e "s|/etc/arena/tls/fullchain.pem|$T/tls/cert.pem|" -e "s|/etc/arena/tls/privkey.pem|$T/tls/key.pem|" \
    -e "s|/var/log/nginx/|$T/nginx/|" ops/nginx/arena.conf >"$T/nginx/arena.conf"
printf 'pid %s/nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n include %s/arena.conf;\n}\n' "$T/nginx" "$T/nginx" >"$T/nginx/nginx.conf"
check "nginx -t accepts ops/nginx/arena.conf" nginx -t -q -p "$T/nginx" -c "$T/nginx/nginx.conf"

if command -v systemd-analyze >/dev/null; then
  for unit in ops/systemd/*.service; do
    # Paths of the installed layout (/opt/arena, /etc/arena) do not exist here: ignore those.
    out=$(systemd-analyze verify "$unit" 2>&1 | grep -vE 'is not executable|No such file or directory|/etc/arena/')
    expect_eq "systemd-analyze verify $(basename "$unit")" "$out" ""
  done
else
  echo "# systemd-analyze missing: units not verified"
fi

if command -v logrotate >/dev/null; then
  # The user "arena" of the installed layout is this machine's user here.
  sed "s/^    su arena arena$/    su $(id -un) $(id -gn)/" ops/logrotate/arena >"$T/logrotate.conf"
  check "logrotate -d ops/logrotate/arena" bash -c "! logrotate -d -s '$T/state' '$T/logrotate.conf' 2>&1 | grep -i 'error'"
else
  echo "# logrotate missing: not checked"
fi

for s in ops/*.sh; do check "bash -n $s" bash -n "$s"; done
