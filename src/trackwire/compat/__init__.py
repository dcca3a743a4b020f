"""Drop-in stand-ins for official vendor libraries, running on trackwire's engine.

``trackwire.compat.segment`` has the module-level API and the ``Client`` class of
``segment-analytics-python``, so that moving to trackwire is an import change::

    import trackwire.compat.segment as analytics   # was: import segment.analytics as analytics
"""
