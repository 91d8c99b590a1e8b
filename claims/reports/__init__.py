"""Marketplace seller finance reports (WB, Ozon) read into normalised rows.

`read.read_report` takes a file as uploaded and returns its rows; `netting.net_within_report`
says what each comes to within the report. No database and no clock here: storing rows and
opening claims from them belong to the importer.
"""
