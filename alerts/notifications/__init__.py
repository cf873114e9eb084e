"""Alert notifications: routing (domain §3.7), e-mail and webhook channels, preferences."""
