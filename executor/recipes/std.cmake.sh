# std.cmake: configure out of tree, build, install with DESTDIR. Needs cmake in the world.
# Arguments (one per line): EOS_CMAKE_FLAGS.
set -eu
IFS='
'
set -f
# shellcheck disable=SC2086
cmake -S "$SOURCE" -B "$BUILD/_build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
  -DCMAKE_INSTALL_LIBDIR="lib/$EOS_TRIPLET" ${EOS_CMAKE_FLAGS:-}
unset IFS
set +f
cmake --build "$BUILD/_build"
DESTDIR="$OUTPUT" cmake --install "$BUILD/_build"
