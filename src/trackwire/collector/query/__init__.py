"""Amplitude's query side over what the collector stored, whatever API it arrived through.

:mod:`.mapping` says what each vendor's stored message means in Amplitude's vocabulary (event
type, event and user properties, export fields), :mod:`.segmentation` plans and assembles event
segmentation, :mod:`.export` writes the export archive as a stream, and :mod:`.users` builds
the user search and user activity answers.
"""
