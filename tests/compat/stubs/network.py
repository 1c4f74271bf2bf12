"""Stand-in for MicroPython's `network`: always connected."""
STA_IF = 0


class WLAN:
    def __init__(self, *a):
        pass

    def isconnected(self):
        return True

    def active(self, *a):
        pass

    def connect(self, *a):
        pass
