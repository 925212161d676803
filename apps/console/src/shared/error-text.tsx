import { Text } from '@mantine/core';

// An API or validation error, announced to screen readers.
export const ErrorText = ({ error }: { error: string | null | undefined }) =>
  error ? (
    <Text c="red" role="alert">
      {error}
    </Text>
  ) : null;
