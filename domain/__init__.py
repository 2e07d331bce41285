"""The pure core of partner-catalog-ingest.

`model` holds the canonical product, the contract's rules, validation and
reports (standard library and attrs only); `use_cases` holds what the
platform does with feeds, driving the ports it is given.
"""
