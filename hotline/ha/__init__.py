"""Active/standby: several instances of the service, one of them active at a time."""
