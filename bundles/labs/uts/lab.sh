# The uts lab: the names this uts namespace gives, set by the runtime from config.json's
# hostname and domainname.
echo "uts lab, inside the container:"
echo "  hostname: $(hostname)"
echo "  domainname: $(labtool domainname)"
echo
labtool hold
