package auth

// MinRSABits is the least size, in bits, of an RSA key the server verifies a signature with: a
// JWT SSO public key an admin pastes, and a key of a provider's or a jwksUrl key set.
const MinRSABits = 2048
