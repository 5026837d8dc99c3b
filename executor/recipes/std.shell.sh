# std.shell: runs the atom's command (EOS_SCRIPT) with sh in $SOURCE; it installs into $OUTPUT.
set -eu
cd "$SOURCE"
exec /bin/sh -eu -c "$EOS_SCRIPT"
