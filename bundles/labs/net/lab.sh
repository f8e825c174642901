# The net lab: the interfaces of this network namespace, its address and default route when
# the runtime gave it a bridge network, and a ping to the host through it.
echo "net lab, inside the container:"
echo "  interfaces: $(ip -o link | awk -F': ' '{sub(/@.*/, "", $2); printf "%s ", $2}')"
echo "  addresses: $(ip -o -4 addr | awk '{printf "%s=%s ", $2, $4}')"
gw=$(ip route | awk '$1 == "default" {print $3}')
echo "  default route: ${gw:-none}"
if [ -n "$gw" ]; then
	if ping -c 1 -W 2 "$gw" > /dev/null 2>&1; then result=ok; else result=failed; fi
	echo "  ping the host ($gw): $result"
fi
echo
labtool hold
