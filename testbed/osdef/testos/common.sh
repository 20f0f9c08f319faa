# Shared helpers of the testos scripts (POSIX sh, coreutils only).
# The marker is MARKER_SIZE bytes at the start of disk 0: three text lines
# (magic, name=, token=), an optional note= line, then NUL padding.

MAGIC='GANETICTL-TESTOS-MARKER v1'
MARKER_SIZE=512

disk0() {
  if [ -z "$DISK_0_PATH" ]; then
    echo "testos: DISK_0_PATH is not set" >&2
    exit 1
  fi
  printf '%s' "$DISK_0_PATH"
}

new_token() {
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n'
}

# write_marker NAME TOKEN: overwrite the first MARKER_SIZE bytes of disk 0.
write_marker() {
  {
    printf '%s\nname=%s\ntoken=%s\n' "$MAGIC" "$1" "$2"
    if [ -n "$OSP_NOTE" ]; then printf 'note=%s\n' "$OSP_NOTE"; fi
    dd if=/dev/zero bs="$MARKER_SIZE" count=1 2>/dev/null
  } | head -c "$MARKER_SIZE" | dd of="$(disk0)" bs="$MARKER_SIZE" count=1 conv=notrunc,fsync 2>/dev/null
}

# marker_field KEY: print KEY's value from disk 0's marker.
marker_field() {
  head -c "$MARKER_SIZE" "$(disk0)" | tr -d '\000' | {
    first=1
    while IFS= read -r line; do
      if [ "$first" = 1 ]; then
        [ "$line" = "$MAGIC" ] || exit 1
        first=0
        continue
      fi
      case $line in "$1"=*) printf '%s\n' "${line#*=}"; exit 0 ;; esac
    done
    exit 1
  }
}
