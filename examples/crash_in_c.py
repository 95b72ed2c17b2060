"""A tiny program that crashes in native code, for trying faultline out.

`ctypes.string_at(0)` asks C's strlen() to read a string at address 0: a NULL
dereference inside libc, three Python calls below main().
"""
import ctypes


def read_header(address):
    return ctypes.string_at(address)


def parse(address):
    header = read_header(address)
    return header.split(b",")


def main():
    lookup = {}  # a failed lookup returns the sentinel 0
    print(parse(lookup.get("header", 0)))


if __name__ == "__main__":
    main()
