"""What supervisors and bot designers read: dashboard, eNPS, miner, good answers."""
