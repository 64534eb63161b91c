#!/bin/sh
# Installs the agent as a macOS LaunchDaemon (run as root, from the source tree after building):
#   sudo launchd/install.sh [BUILD_DIR (default ./build)]
# Creates the service user _auraagent (when missing), /Library/Application Support/Aura Agent
# (0750; state, key and config, readable by the service user only) and /Library/Logs/Aura Agent,
# installs the binary to /usr/local/bin and the plist to /Library/LaunchDaemons, and loads it.
# A config must exist first: the agent refuses to start without one (launchd then retries).
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
support="/Library/Application Support/Aura Agent"
logs="/Library/Logs/Aura Agent"
plist=/Library/LaunchDaemons/com.aura.agent.plist

if ! dscl . -read /Users/_auraagent >/dev/null 2>&1; then
  # A free uid/gid below 500 (system range).
  id=$(dscl . -list /Users UniqueID | awk '{print $2}' | sort -n | awk '$1>=300 && $1<500' | tail -1)
  id=$(( ${id:-299} + 1 ))
  dscl . -create /Groups/_auraagent PrimaryGroupID "$id"
  dscl . -create /Users/_auraagent UniqueID "$id"
  dscl . -create /Users/_auraagent PrimaryGroupID "$id"
  dscl . -create /Users/_auraagent UserShell /usr/bin/false
  dscl . -create /Users/_auraagent NFSHomeDirectory "$support"
fi
install -d -o root -g _auraagent -m 0750 "$support"
install -d -o _auraagent -g _auraagent -m 0700 "$support/state"
install -d -o _auraagent -g _auraagent -m 0750 "$logs"
install -o root -g wheel -m 0755 "$build/agent/aura-agent" /usr/local/bin/aura-agent
install -o root -g wheel -m 0644 "$root/launchd/com.aura.agent.plist" "$plist"
if [ ! -f "$support/agent.toml" ]; then
  install -o root -g _auraagent -m 0640 "$root/examples/agent.toml" "$support/agent.toml"
  echo "edit $support/agent.toml (state_dir = \"$support/state\"), then: launchctl kickstart -k system/com.aura.agent"
fi
launchctl bootout system "$plist" 2>/dev/null || true
launchctl bootstrap system "$plist"
echo "installed; status: sudo launchctl print system/com.aura.agent"
