"""Background work that is owed at a time: claimed from the database, never held in memory."""
