# The user lab: root of its own user namespace, which maps uid 0 to the user who ran it; its
# capabilities count over what that namespace owns (its mount namespace) and nothing else
# (the host's uts namespace, whose hostname it tries to set to the value it already has).
echo "user lab, inside the container:"
echo "  my uid: $(id -u)"
set -- $(cat /proc/self/uid_map)
echo "  uid map: $*"
touch /tmp/made-inside
echo "  owner of /tmp/made-inside: $(stat -c %u /tmp/made-inside)"
if err=$(mount -t tmpfs lab /mnt 2>&1); then err=ok; fi
echo "  CAP_SYS_ADMIN, mount a tmpfs (my mount namespace): $err"
if err=$(hostname "$(hostname)" 2>&1); then err=ok; fi
echo "  CAP_SYS_ADMIN, sethostname (the host's uts namespace): $err"
echo
labtool hold
