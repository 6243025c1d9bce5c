# Installs the project's tools into .venv-tools (sourced by the other scripts).
# moto for the AWS adapter tests; more tools join here as the project needs them.
ensure_tools() {
  local venv=.venv-tools
  if [ ! -x "$venv/bin/moto_server" ]; then
    echo "installing test tools into $venv (about a minute)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]>=5.1,<6"
  fi
  export PATH="$PWD/$venv/bin:$PATH"
}
