#!/bin/sh
# The Asterisk container's entrypoint: Asterisk in the foreground from the files that
# `hotline config render` wrote (docker/compose.yaml's init step), mounted read-only.
# HOTLINE_PBX_DIR: the render's --out folder; HOTLINE_PBX_SOUNDS: where the service synthesises
# the sounds Asterisk lacks in our languages (<ivr.prompts_dir>/asterisk/<language>).
set -eu
dir=${HOTLINE_PBX_DIR:-/var/lib/hotline/asterisk}
sounds=${HOTLINE_PBX_SOUNDS:-/var/lib/hotline/prompts/asterisk}
conf=$dir/etc/asterisk.conf
if [ ! -f "$conf" ]; then
  echo "asterisk-entrypoint: no $conf: render it first (hotline config render --out $dir)" >&2
  exit 1
fi
# Asterisk's own folders beside etc (the image has them for one PBX; with several, each
# PBX's render folder is $dir = /var/lib/hotline/asterisk/<name>).
mkdir -p "$dir/lib" "$dir/spool" "$dir/run" "$dir/log" "$dir/agi-bin"
# With sounds of our own (ivr.pbx_sounds) the config's astdatadir is $dir/data: the system's
# sounds with our language folders beside them, all links, rebuilt at every start (as
# telephony/asterisk/sounds.py builds it for the embedded PBX).
data=$(sed -n 's/^astdatadir => //p' "$conf")
if [ "$data" = "$dir/data" ]; then
  system=/usr/share/asterisk
  rm -rf "$data"
  mkdir -p "$data/sounds"
  for entry in "$system"/*; do
    if [ "${entry##*/}" != sounds ]; then ln -s "$entry" "$data/"; fi
  done
  for entry in "$system"/sounds/*; do
    if [ ! -d "$sounds/${entry##*/}" ]; then ln -s "$entry" "$data/sounds/"; fi
  done
  for lang in "$sounds"/*/; do
    if [ -d "$lang" ]; then ln -s "${lang%/}" "$data/sounds/"; fi
  done
fi
exec asterisk -f -C "$conf" "$@"
