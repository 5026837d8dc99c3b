# std.autotools: upstream's own ./configure && make && make install, unmodified.
# Arguments (EOS_ARGS, one per line) are appended to ./configure.
set -eu
cd "$SOURCE"
IFS='
'
set -f
# shellcheck disable=SC2086
./configure --prefix=/usr --libdir="/usr/lib/$EOS_TRIPLET" ${EOS_ARGS:-}
unset IFS
set +f
make
make install DESTDIR="$OUTPUT"
