# The cgroup lab: /proc/self/cgroup, one line per hierarchy (id:controllers:path). In a new
# cgroup namespace each path is relative to the cgroup the container was created in.
echo "cgroup lab, inside the container:"
while IFS=: read -r _id controllers path; do
	echo "  ${controllers:-(unified)}: $path"
done < /proc/self/cgroup
echo
labtool hold
