"""The personalization command set of the eMRTD applet, host side (DOMAIN.md §7): the JMRTD
passport applet's protocol, extended with prime-curve EC keys, the PACE CAN, an EC active
authentication key and the chip-authentication key ID."""
