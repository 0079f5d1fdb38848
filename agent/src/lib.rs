//! ip-masq-agent: placeholder until the agent lands.
