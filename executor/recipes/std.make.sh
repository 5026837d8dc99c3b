# std.make: make, then make install with DESTDIR, PREFIX and LIBDIR set.
# Arguments (one per line): EOS_MAKE_FLAGS, EOS_INSTALL_FLAGS.
set -eu
cd "$SOURCE"
IFS='
'
set -f
# shellcheck disable=SC2086
make PREFIX=/usr LIBDIR="/usr/lib/$EOS_TRIPLET" ${EOS_MAKE_FLAGS:-}
# shellcheck disable=SC2086
make install DESTDIR="$OUTPUT" PREFIX=/usr LIBDIR="/usr/lib/$EOS_TRIPLET" ${EOS_INSTALL_FLAGS:-}
