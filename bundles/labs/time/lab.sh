# The time lab: the clocks of this time namespace, shifted by config.json's linux.timeOffsets
# (monotonic +10 days, boottime +365 days). uptime reads CLOCK_BOOTTIME through sysinfo(2).
echo "time lab, inside the container:"
set -- $(labtool clocks)
echo "  CLOCK_MONOTONIC: $1"
echo "  CLOCK_BOOTTIME: $2"
echo "  uptime: $(uptime | sed 's/.*up \(.*\), *[0-9]* users*.*/up \1/')"
echo
labtool hold
