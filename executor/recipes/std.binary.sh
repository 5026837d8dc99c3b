# std.binary: unpack only; the source's files become the output as they are.
set -eu
cp -R "$SOURCE"/. "$OUTPUT"/
