"""Looking after things: purchase and warranty, receipts and manuals, maintenance schedules and their reminders."""
