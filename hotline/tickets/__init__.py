"""Tickets (work orders): the 12345 lifecycle, categories and departments, working-day deadlines.

Kept import-light on purpose: the configuration's schema imports ``hotline.tickets.config``.
The service is ``hotline.tickets.service.TicketService``.
"""
