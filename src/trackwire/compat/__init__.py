"""Drop-in stand-ins for the official vendor libraries, running on trackwire's engine.

Each has the official package's names, argument orders, return values and message shapes,
so that moving to trackwire is an import change:

- :mod:`trackwire.compat.segment` for ``segment-analytics-python``
  (``import trackwire.compat.segment as analytics``);
- :mod:`trackwire.compat.amplitude` for ``amplitude-analytics``
  (``from trackwire.compat.amplitude import Amplitude, BaseEvent``);
- :mod:`trackwire.compat.mparticle` for ``mparticle``
  (``import trackwire.compat.mparticle as mparticle``).

Underneath each is the trackwire client of that vendor (batching, retries, exit and SIGTERM
drain, fork safety, ``stats()``); ``trackwire_options`` passes it options the official
packages have no name for, such as a disk spool.
"""
