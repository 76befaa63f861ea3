"""Error-fingerprint memory: errors seen in a repository, their root causes and fixes.

fingerprint.py (with parsers.py and normalize.py) turns error text into a stable record and
is pure; features.py embeds it offline. store.py keeps records in Chroma and is the only
module that imports chromadb (lazily). recall.py and capture.py are what ask, chat and
doctor call; kimicode/commands/memory.py is the `kimicode memory` command.
"""
