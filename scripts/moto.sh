# Starts moto on a free loopback port for this shell and stops it on exit (sourced by the
# test and bench scripts). Exports what the AWS SDK needs to talk to it.
start_moto() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  mkdir -p .tmp
  .venv-tools/bin/python scripts/moto_server.py 127.0.0.1 "$port" > .tmp/moto.log 2>&1 &
  moto_pid=$!
  trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then break; fi
    if ! kill -0 "$moto_pid" 2>/dev/null; then echo "moto did not start:"; cat .tmp/moto.log; exit 1; fi
    sleep 0.2
  done
  echo "moto listening on 127.0.0.1:$port"
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
  export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
  export AWS_EC2_METADATA_DISABLED=true
}
