# Connects to a TCP server the test runs on the host's loopback; must not get through.
import socket

s = socket.create_connection(("127.0.0.1", __PORT__), timeout=2)
s.sendall(b"escaped")
s.close()
