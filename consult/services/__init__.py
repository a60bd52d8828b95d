"""Write services. Each public function is one transaction and publishes only after commit."""
