# The ipc lab: the host's objects (made by `make lab` before the container starts) are not
# here, and the ones made here stay here (they vanish with the namespace).
echo "ipc lab, inside the container:"
echo "  the host's queue /lab-host: $(labtool mq has /lab-host)"
echo "  the host's segment 0x1ab0: $(labtool shm has 1ab0)"
labtool mq make /lab-inside
labtool shm make 1ab1
echo "  my queue /lab-inside: $(labtool mq has /lab-inside)"
echo "  my segment 0x1ab1: $(labtool shm has 1ab1)"
echo
labtool hold
