"""Inventory's domain: stock arithmetic and the reservation life cycle, pure (no I/O).

`stock` keeps available + reserved + sold constant through reserve / release / commit;
`reservations` decides what a reserve, commit, release or expiry does to a reservation.
The service layer locks the rows, asks these functions, and writes the answer back.
"""
