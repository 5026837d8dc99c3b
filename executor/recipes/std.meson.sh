# std.meson: meson setup out of tree, compile, install with DESTDIR. Needs meson and ninja in the
# world. Arguments (one per line): EOS_MESON_FLAGS. Ninja does not join make's jobserver, so its
# -j is the N of the sandbox's MAKEFLAGS=-jN.
set -eu
jobs=$(printf '%s\n' "${MAKEFLAGS:-}" | sed -n 's/.*-j\([0-9][0-9]*\).*/\1/p')
IFS='
'
set -f
# shellcheck disable=SC2086
meson setup "$BUILD/_build" "$SOURCE" --prefix=/usr --libdir="lib/$EOS_TRIPLET" --buildtype=release \
  --wrap-mode=nodownload ${EOS_MESON_FLAGS:-}
unset IFS
set +f
meson compile -C "$BUILD/_build" -j "${jobs:-1}"
DESTDIR="$OUTPUT" meson install -C "$BUILD/_build" --no-rebuild
