// Authenticated encryption of small secrets (exchange API keys) under the master key:
// XChaCha20-Poly1305 with a random 24-byte nonce per message, so nonces never need tracking.
import sodium from 'libsodium-wrappers-sumo';
import { keyFingerprint, MASTER_KEY_BYTES } from './master-key.ts';

export interface Sealed {
  readonly ciphertext: Uint8Array<ArrayBuffer>;
  readonly nonce: Uint8Array<ArrayBuffer>;
  /** Fingerprint of the key that sealed it. */
  readonly keyVersion: string;
}

/** Why a ciphertext could not be opened. Carries no key or plaintext material. */
export class VaultError extends Error {
  constructor(readonly reason: 'unknown_key_version' | 'authentication_failed') {
    super(
      reason === 'unknown_key_version'
        ? 'sealed under a different master key than the current one'
        : 'ciphertext failed authentication (tampered, moved to another row, or wrong key)',
    );
    this.name = 'VaultError';
  }
}

export class Vault {
  readonly #key: Uint8Array;
  readonly keyVersion: string;

  private constructor(key: Uint8Array, keyVersion: string) {
    this.#key = key;
    this.keyVersion = keyVersion;
  }

  /** Keeps its own copy of the key, so the caller may zero theirs. */
  static async create(master: { readonly key: Uint8Array }): Promise<Vault> {
    await sodium.ready;
    if (master.key.length !== MASTER_KEY_BYTES) throw new Error(`a master key has ${MASTER_KEY_BYTES} bytes`);
    return new Vault(Uint8Array.from(master.key), await keyFingerprint(master.key));
  }

  /**
   * The associated data is authenticated but not stored: it binds the ciphertext to its owner
   * row, so the same bytes copied anywhere else fail to open.
   */
  encrypt(plaintext: Uint8Array | string, associatedData: string): Sealed {
    const nonce = sodium.randombytes_buf(sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    const ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, associatedData, null, nonce, this.#key);
    return { ciphertext: Uint8Array.from(ciphertext), nonce: Uint8Array.from(nonce), keyVersion: this.keyVersion };
  }

  /** The caller owns the returned buffer and should zero it (sodium.memzero) once done; see `open`. */
  decrypt(sealed: Sealed, associatedData: string): Uint8Array {
    if (sealed.keyVersion !== this.keyVersion) throw new VaultError('unknown_key_version');
    try {
      return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, sealed.ciphertext, associatedData, sealed.nonce, this.#key);
    } catch {
      throw new VaultError('authentication_failed');
    }
  }

  /** Decrypts, hands the plaintext to `use`, then zeroes it whatever happens. */
  open<T>(sealed: Sealed, associatedData: string, use: (plaintext: Uint8Array) => T): T {
    const plaintext = this.decrypt(sealed, associatedData);
    try {
      return use(plaintext);
    } finally {
      sodium.memzero(plaintext);
    }
  }

  /** Zeroes the key; the vault is unusable afterwards. */
  destroy(): void {
    sodium.memzero(this.#key);
  }
}
