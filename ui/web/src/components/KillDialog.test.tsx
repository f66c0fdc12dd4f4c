import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfirmDialog } from './KillDialog';

afterEach(cleanup);

function setup() {
  const onConfirm = vi.fn();
  const onCancel = vi.fn();
  render(
    <ConfirmDialog
      word="KILL"
      title="Halt?"
      body="body"
      action="KILL ENGINE"
      busy={false}
      error={null}
      withReason
      onConfirm={onConfirm}
      onCancel={onCancel}
    />,
  );
  return { onConfirm, onCancel, input: screen.getByTestId('confirm-input'), go: screen.getByTestId('confirm-go') };
}

describe('kill confirmation cannot be hit by accident', () => {
  it('stays disabled until the word is typed exactly', () => {
    const { onConfirm, input, go } = setup();
    expect(go).toHaveProperty('disabled', true);
    fireEvent.click(go);
    fireEvent.keyDown(input, { key: 'Enter' });
    for (const near of ['kill', 'KIL', 'KILL ', ' KILL', 'KILLL']) {
      fireEvent.change(input, { target: { value: near } });
      expect(go).toHaveProperty('disabled', true);
      fireEvent.keyDown(input, { key: 'Enter' });
    }
    expect(onConfirm).not.toHaveBeenCalled();
    fireEvent.change(input, { target: { value: 'KILL' } });
    expect(go).toHaveProperty('disabled', false);
    fireEvent.click(go);
    expect(onConfirm).toHaveBeenCalledTimes(1);
    expect(onConfirm).toHaveBeenCalledWith('operator kill from cockpit');
  });

  it('sends the reason the operator typed, and Escape cancels', () => {
    const { onConfirm, onCancel, input } = setup();
    fireEvent.change(screen.getByTestId('kill-reason'), { target: { value: 'bad fills' } });
    fireEvent.change(input, { target: { value: 'KILL' } });
    fireEvent.keyDown(input, { key: 'Enter' });
    expect(onConfirm).toHaveBeenCalledWith('bad fills');
    fireEvent.keyDown(window, { key: 'Escape' });
    expect(onCancel).toHaveBeenCalledTimes(1);
  });
});
