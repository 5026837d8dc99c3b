# std.autotools: upstream's own ./configure && make && make install, unmodified.
# Arguments (one per line): EOS_CONFIGURE_FLAGS, EOS_MAKE_FLAGS, EOS_INSTALL_FLAGS.
set -eu
cd "$SOURCE"
IFS='
'
set -f
# shellcheck disable=SC2086
./configure --prefix=/usr --libdir="/usr/lib/$EOS_TRIPLET" ${EOS_CONFIGURE_FLAGS:-}
# shellcheck disable=SC2086
make ${EOS_MAKE_FLAGS:-}
# shellcheck disable=SC2086
make install DESTDIR="$OUTPUT" ${EOS_INSTALL_FLAGS:-}
