"""The end-to-end demo: runs every stage that exists and says which are still to come."""
