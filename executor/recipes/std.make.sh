# std.make: make, then make install with DESTDIR and PREFIX set.
# Arguments (EOS_ARGS, one per line) are passed to both make invocations.
set -eu
cd "$SOURCE"
IFS='
'
set -f
# shellcheck disable=SC2086
make PREFIX=/usr LIBDIR="/usr/lib/$EOS_TRIPLET" ${EOS_ARGS:-}
# shellcheck disable=SC2086
make install DESTDIR="$OUTPUT" PREFIX=/usr LIBDIR="/usr/lib/$EOS_TRIPLET" ${EOS_ARGS:-}
