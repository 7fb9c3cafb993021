import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkGuestRam } from '../../../src/qemu/guests/check-guest-ram.js';

const PAGE = 4096;

function image(bytes: number[]): Uint8Array {
  const img = new Uint8Array(bytes.length * PAGE);
  bytes.forEach((b, i) => (img[i * PAGE] = b));
  return img;
}

test('a consistent image with the loop standing mid-range has one edge and no bad page', () => {
  const r = checkGuestRam(image([8, 8, 8, 7, 7, 7]));
  assert.deepEqual([r.edges, r.bad, r.pages, r.firstByte], [1, 0, 6, 8]);
});

test('an image where the loop stands at the end (or wrapped at 255) is consistent', () => {
  assert.equal(checkGuestRam(image([5, 5, 5])).bad, 0);
  assert.equal(checkGuestRam(image([0, 0, 255, 255])).bad, 0);
});

test('a page whose update was lost is reported bad, with its index', () => {
  const r = checkGuestRam(image([9, 9, 8, 9, 9]));
  assert.ok(r.bad >= 1);
  assert.ok(r.firstBad.includes(3));
});

test('a second edge or a jump of more than one is bad', () => {
  assert.ok(checkGuestRam(image([9, 8, 8, 7])).bad > 0);
  assert.ok(checkGuestRam(image([9, 9, 7, 7])).bad > 0);
});

test('an image that is not whole pages is rejected', () => {
  assert.throws(() => checkGuestRam(new Uint8Array(PAGE + 1)), RangeError);
});
