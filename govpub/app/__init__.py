"""The application shell: what operators and the DAGs call, above every other layer.

It may read the records of any channel and orchestrate producers, consumers and
channels; nothing below it imports it.
"""
