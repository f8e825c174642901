# The mount lab: what this mount namespace holds, from /proc/self/mountinfo (fields: id parent
# major:minor root mount-point ...), and what is left above the new root after pivot_root.
echo "mount lab, inside the container:"
points=
while read -r _id _parent dev root point _rest; do
	case "$point" in
	/) echo "  / is: $root (dev $dev)" ;;
	/tmp) echo "  tmpfs /tmp: dev $dev" ;;
	esac
	case "$point" in /proc/*|/sys/*) ;; *) points="$points $point" ;; esac
done < /proc/self/mountinfo
echo "  mount points:$points"
cd /..
echo "  cd /.. leads to: $PWD (inode $(stat -c %i .), / is inode $(stat -c %i /))"
echo
labtool hold
