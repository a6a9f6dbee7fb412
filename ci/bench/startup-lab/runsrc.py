# Runs the backend FROM SOURCE (/src/main.py, Debian's dist-packages and stdlib with their
# __pycache__) on the frozen interpreter (PyInstaller bootloader + bundled libpython3.13.so):
# isolates the interpreter from the bundle's packaging (PYZ, runtime hooks, layout).
import runpy, sys
sys.path[:0] = ["/src", "/usr/lib/python3.13", "/usr/lib/python3.13/lib-dynload", "/usr/local/lib/python3.13/dist-packages", "/usr/lib/python3/dist-packages"]
sys.argv = ["/src/main.py"] + sys.argv[1:]
runpy.run_path("/src/main.py", run_name="__main__")
